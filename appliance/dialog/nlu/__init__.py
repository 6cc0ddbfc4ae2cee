"""Understanding what a customer said: intents, slots, numbers, dates and times, intent strength."""
