import FiredrillCore
print("firedrill")
