/// The resident executor: a small Python program Firedrill starts on each host, once per
/// connection, on a channel of its own, and sends every command of the drill to (design:
/// docs/performance.md). A command then costs one round trip on an open channel, not a channel
/// opened, a login shell and `timeout`, and the host still does everything the per-command
/// wrapper (`RemoteCommand.wrap`) does:
///
/// - each command runs as `sh -c COMMAND` in a session (and process group) of its own, with
///   standard input from /dev/null and `FIREDRILL_CMD=TAG` in its environment (the leftover
///   sweep finds what it started by that tag); its process group is reported before anything else;
/// - the deadline is kept on the host: SIGTERM (and SIGCONT) to the group at the timeout,
///   SIGKILL `grace` later — also while the controller is frozen or the link is silent;
/// - a cancel (`K`) sends SIGTERM to the group, SIGKILL 0.2 s later (as `RemoteCommand.kill`);
/// - when its input ends (the controller closed the channel, died, or the connection broke) it
///   kills the running command's group the same way and exits: nothing it started outlives the
///   controller's connection;
/// - a command that ended while something it started holds its output open is reported ended
///   after the output grace, marked held open;
/// - it never buffers more than 256 KiB of output: a controller that stops reading stops the
///   reading of the command's output, never the deadline.
///
/// One command at a time (the connection's worker thread sends them one by one); a request
/// while one runs is refused (`N id busy`), never queued.
///
/// Protocol on the channel (the executor's standard input and output; its standard error is
/// Python's own, kept for the reason when it fails):
///
///     → R ID TIMEOUT_MS GRACE_MS OUTPUT_GRACE_MS TAG LENGTH\n COMMAND-BYTES
///     → K ID\n                                   cancel ID
///     → Q ID\n                                   are you there? (answered at once, also while busy)
///     ← A ID\n                                   here
///     ← FIREDRILL-EXECUTOR-1 PID\n               once, when ready
///     ← P ID PGID\n                              started
///     ← O ID LENGTH\n BYTES  /  E ID LENGTH\n BYTES   standard output / error
///     ← X ID exit N|signal NAME HELD WHY FORCED\n      ended; WHY: ran, tg (timed out), kg (killed)
///     ← N ID MESSAGE\n                           not started (busy, cannot spawn, bad request)
enum ResidentExecutor {
    /// What the executor says once it is ready.
    static let hello = "FIREDRILL-EXECUTOR-1 "

    /// The command the login shell runs: the interpreter with the program as its argument (no
    /// file is written on the host; `-I -S`: no user site, no environment variables, no `site`).
    /// The login shell says its process id first (`launchMarker`): an interpreter that never
    /// becomes the executor is killed by it. The caller's `LC_CTYPE` (or its absence) is passed
    /// on, so the locale coercion of Python 3.7+ does not reach the commands' environment.
    static func launch(python: String) -> String {
        "echo \(launchMarker)$$ >&2; exec \(python) -I -S -c \(ShellQuoting.quote(script)) \"${LC_CTYPE-}\" \"${LC_CTYPE+set}\""
    }

    static let launchMarker = "FIREDRILL-LAUNCH="

    /// One request, framed.
    static func request(id: Int, command: String, timeout: Duration, grace: Duration, outputGrace: Duration, tag: String) -> [UInt8] {
        let body = Array(command.utf8)
        let head = "R \(id) \(max(1, DurationText.milliseconds(timeout))) \(max(1, DurationText.milliseconds(grace))) \(DurationText.milliseconds(outputGrace)) \(tag) \(body.count)\n"
        return Array(head.utf8) + body
    }

    static func cancel(id: Int) -> [UInt8] { Array("K \(id)\n".utf8) }
    static func probe(id: Int) -> [UInt8] { Array("Q \(id)\n".utf8) }

    /// After this long without a word from the executor, the connection is asked whether it still
    /// answers before a command is sent on it: a request written into a silent connection could
    /// not be told from one that started, and a silent connection is replaced (as a channel that
    /// does not open is) while the command is still certainly not sent.
    static let quietBeforeProbe: Duration = .seconds(1)

    /// The program (Python 3; `posix_spawnp` from 3.8, else fork and exec).
    static let script = #"""
import os,select,signal,sys,time
T=time.monotonic
def main():
    S=signal;P=os.read
    wr,ww=os.pipe();os.set_blocking(wr,False);os.set_blocking(ww,False)
    S.set_wakeup_fd(ww);S.signal(S.SIGCHLD,lambda s,f:None)
    if hasattr(S,'pthread_sigmask'):S.pthread_sigmask(S.SIG_SETMASK,[])
    os.set_blocking(1,False);env=dict(os.environb);inb=b'';out=[b'FIREDRILL-EXECUTOR-1 %d\n'%os.getpid()];c=None;eof=False;pk=[]
    a=sys.argv[1:]
    if len(a)==2:
        if a[1]:env[b'LC_CTYPE']=os.fsencode(a[0])
        else:env.pop(b'LC_CTYPE',None)
    def send(b):out.append(b)
    def sig(pg,g):
        for s in(g,S.SIGCONT):
            try:os.killpg(pg,s)
            except OSError:pass
    def kill(g):sig(c['pid'],g)
    def stop(why):
        if c['st'] is None and not c['why']:c['why']=why;kill(S.SIGTERM);c['at']=T()+c[why]
        elif c['at'] and why=='kg':c['at']=min(c['at'],T()+0.2)
    def spawn(k,tag,cmd):
        e=dict(env);e[b'FIREDRILL_CMD']=tag;a=[b'sh',b'-c',cmd,b'firedrill'];o=os.pipe();q=os.pipe()
        try:
            if hasattr(os,'posix_spawnp'):
                p=os.posix_spawnp(b'sh',a,e,file_actions=[(os.POSIX_SPAWN_OPEN,0,'/dev/null',os.O_RDONLY,0),
                  (os.POSIX_SPAWN_DUP2,o[1],1),(os.POSIX_SPAWN_DUP2,q[1],2)],setsid=True,
                  setsigdef=(S.SIGPIPE,S.SIGXFSZ,S.SIGCHLD,S.SIGTERM,S.SIGHUP,S.SIGINT))
            else:
                p=os.fork()
                if p==0:
                    try:
                        os.setsid();n=os.open('/dev/null',os.O_RDONLY);os.dup2(n,0);os.dup2(o[1],1);os.dup2(q[1],2)
                        for s in(S.SIGPIPE,S.SIGXFSZ,S.SIGCHLD,S.SIGTERM,S.SIGHUP,S.SIGINT):S.signal(s,S.SIG_DFL)
                        os.execvpe('sh',a,e)
                    finally:os._exit(127)
        except OSError as x:
            for f in o+q:os.close(f)
            return send(b'N %d %s\n'%(k,str(x).encode()[:200].replace(b'\n',b' ')))
        os.close(o[1]);os.close(q[1]);return p,[o[0],q[0]]
    try:
        while out or not eof or c or pk:
            now=T();r=[wr]+([] if eof else[0])
            if c and sum(map(len,out))<262144:r+=[f for f in c['fds'] if f>=0]
            ts=[t for t in(c and(c['dl'],c['at'],c['end'],now+0.5))or()if t]+[t for _,t in pk]
            r,w,_=select.select(r,[1] if out else[],[],max(0,min(ts)-now) if ts else None)
            if wr in r:
                try:P(wr,512)
                except OSError:pass
            if 1 in w:
                b=b''.join(out);out=[];n=os.write(1,b)
                if n<len(b):out=[b[n:]]
            if 0 in r:
                d=P(0,65536);inb+=d;eof=not d
            while inb:
                i=inb.find(b'\n')
                if i<0:break
                h=inb[:i].split(b' ')
                if h[0]==b'K':
                    inb=inb[i+1:]
                    if c and c['id']==int(h[1]):stop('kg')
                    continue
                if h[0]==b'Q':
                    inb=inb[i+1:];send(b'A %d\n'%int(h[1]));continue
                if h[0]!=b'R' or len(h)!=7:send(b'N -1 bad request\n');eof=True;inb=b'';break
                n=int(h[6])
                if len(inb)<i+1+n:break
                cmd=inb[i+1:i+1+n];inb=inb[i+1+n:];k=int(h[1])
                if c:send(b'N %d busy\n'%k);continue
                s=spawn(k,h[5],cmd)
                if s:
                    t=T();c={'id':k,'pid':s[0],'fds':s[1],'st':None,'why':None,'at':None,'end':None,
                     'dl':t+int(h[2])/1000,'tg':int(h[3])/1000,'kg':0.2,'og':int(h[4])/1000}
                    send(b'P %d %d\n'%(k,s[0]))
            if eof and c:stop('kg')
            if eof:pk=[[g,min(t,now+0.2)] for g,t in pk]
            for x in[x for x in pk if T()>=x[1]]:sig(x[0],S.SIGKILL);pk.remove(x)
            if not c:continue
            for j,f in enumerate(c['fds']):
                if f in r:
                    d=P(f,65536)
                    if d:send(b'%s %d %d\n'%(b'OE'[j:j+1],c['id'],len(d))+d)
                    else:os.close(f);c['fds'][j]=-1
            now=T()
            if c['dl'] and now>=c['dl']:c['dl']=None;stop('tg')
            if c['at'] and now>=c['at']:c['at']=None;c['forced']=1;kill(S.SIGKILL)
            if c['st'] is None:
                p,s=os.waitpid(c['pid'],os.WNOHANG)
                if p:
                    c['st']=s;c['end']=now+c['og'];c['dl']=None
                    if c['at']:pk.append([c['pid'],c['at']]);c['at']=None
            if c['st'] is not None and(c['fds']==[-1,-1] or now>=c['end']):
                s=c['st']
                for f in c['fds']:
                    if f>=0:os.close(f)
                x=b'exit %d'%os.WEXITSTATUS(s) if os.WIFEXITED(s) else b'signal '+S.Signals(os.WTERMSIG(s)).name[3:].encode()
                send(b'X %d %s %d %s %d\n'%(c['id'],x,c['fds']!=[-1,-1],(c['why'] or 'ran').encode(),'forced' in c));c=None
    except OSError:pass
    finally:
        if c and c['st'] is None:kill(S.SIGTERM);pk.append([c['pid'],0])
        if pk:
            time.sleep(0.2)
            for g,_ in pk:sig(g,S.SIGKILL)
main()
"""#
}

extension ResidentExecutor {
    /// What the executor says about a command.
    enum Frame: Equatable, Sendable {
        case ready(pid: Int32)
        case started(id: Int, pgid: Int32)
        /// Stream 0 is standard output, 1 standard error.
        case output(id: Int, stream: Int32, bytes: [UInt8])
        case ended(id: Int, Ending)
        case refused(id: Int, message: String)
        case alive(id: Int)
    }

    struct Ending: Equatable, Sendable {
        enum Why: String, Sendable { case ran, timedOut = "tg", killed = "kg" }
        /// `exited` or `signaled`, as the host's `waitpid` saw it.
        var status: CommandResult.Outcome
        /// The command ended while something it started held its output open.
        var heldOpen: Bool
        var why: Why
        /// The group was sent SIGKILL (it outlived SIGTERM by the grace).
        var forced: Bool
    }

    /// The executor's words cannot be read: whatever is on the channel is not the executor.
    struct Malformed: Error, Equatable { var line: String }

    /// Cuts the executor's output into frames. Before the executor is ready, lines that are not
    /// its greeting (a login script that prints) are skipped; after, every byte must be a frame.
    struct FrameReader {
        private var buffer: [UInt8] = []
        private var start = 0
        private(set) var ready = false

        mutating func append(_ chunk: UnsafeRawBufferPointer) { buffer.append(contentsOf: chunk) }
        mutating func append(_ chunk: [UInt8]) { buffer.append(contentsOf: chunk) }

        /// The next whole frame, or nil until more bytes come.
        mutating func next() throws(Malformed) -> Frame? {
            while true {
                guard let nl = buffer[start...].firstIndex(of: 10) else { compact(); return nil }
                let line = buffer[start..<nl]
                if !ready {
                    start = nl + 1
                    if line.starts(with: ResidentExecutor.hello.utf8),
                       let pid = Int32(String(decoding: line.dropFirst(ResidentExecutor.hello.utf8.count), as: UTF8.self)) {
                        ready = true
                        compact()
                        return .ready(pid: pid)
                    }
                    continue
                }
                let words = line.split(separator: 32, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
                func bad() -> Malformed { Malformed(line: String(String(decoding: line, as: UTF8.self).prefix(120))) }
                guard let kind = words.first, words.count >= 2, let id = Int(words[1]) else { throw bad() }
                switch kind {
                case "O", "E":
                    guard words.count == 3, let n = Int(words[2]), n >= 0 else { throw bad() }
                    guard buffer.count - (nl + 1) >= n else { return nil }
                    let bytes = Array(buffer[(nl + 1)..<(nl + 1 + n)])
                    start = nl + 1 + n
                    compact()
                    return .output(id: id, stream: kind == "O" ? 0 : 1, bytes: bytes)
                case "P":
                    guard words.count == 3, let pgid = Int32(words[2]) else { throw bad() }
                    start = nl + 1
                    return .started(id: id, pgid: pgid)
                case "X":
                    guard words.count == 7, case let value = words[3], !value.isEmpty,
                          let held = Int(words[4]), let why = Ending.Why(rawValue: words[5]), let forced = Int(words[6]) else { throw bad() }
                    let status: CommandResult.Outcome
                    switch words[2] {
                    case "exit": guard let code = Int32(value) else { throw bad() }; status = .exited(code)
                    case "signal": status = .signaled(value)
                    default: throw bad()
                    }
                    start = nl + 1
                    return .ended(id: id, Ending(status: status, heldOpen: held != 0, why: why, forced: forced != 0))
                case "A":
                    guard words.count == 2 else { throw bad() }
                    start = nl + 1
                    return .alive(id: id)
                case "N":
                    start = nl + 1
                    return .refused(id: id, message: words.dropFirst(2).joined(separator: " "))
                default:
                    throw bad()
                }
            }
        }

        private mutating func compact() {
            if start == buffer.count { buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20); start = 0 }
            else if start > 65536 { buffer.removeFirst(start); start = 0 }
        }
    }
}

/// How commands reach a host (`--executor`).
public enum ExecutorMode: String, Sendable, CaseIterable {
    /// The resident executor where the host's Python 3 runs it, else one channel per command.
    case auto
    /// One channel per command, each wrapped in `timeout` (`RemoteCommand.wrap`).
    case channel
}

/// How a connected host runs commands (said at preflight, journaled with the host).
public enum ExecutorState: Sendable, Equatable {
    /// `--executor channel`, or not connected yet.
    case perCommand
    /// The resident executor runs, with its process id on the host.
    case resident(pid: Int32)
    /// The executor could not start (or ended): one channel per command, and why.
    case unavailable(String)

    /// `resident executor (pid 4242)`, `one channel per command (python3: not found)`.
    public var description: String {
        switch self {
        case .perCommand: return "one channel per command"
        case let .resident(pid): return "resident executor (pid \(pid))"
        case let .unavailable(why): return "one channel per command (\(why))"
        }
    }
}
