// SVStreaming: see README.md in this folder.
