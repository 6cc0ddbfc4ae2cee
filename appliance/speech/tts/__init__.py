"""Speech synthesis: piper, sentence splitting, recorded prompts, a flow's prompt source and the prompt cache."""
