print("spkv")
