// SVAudio: see README.md in this folder.
