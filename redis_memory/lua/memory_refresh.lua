refresh(KEYS[1])
return 1
