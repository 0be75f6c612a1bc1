"""operators of the JumpCloud provider."""
