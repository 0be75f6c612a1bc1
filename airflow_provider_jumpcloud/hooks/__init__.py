"""hooks of the JumpCloud provider."""
