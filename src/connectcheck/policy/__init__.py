"""The organisation's profile and its procedure for lessons the technology stops."""
