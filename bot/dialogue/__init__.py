"""The Rasa server's side of reading a message in its conversation (ofr/dialogue)."""
