"""Real time: the decision for one event, and what it reads of the customer."""
