// SpeakerVerification: see README.md in this folder.
