"""The batch decision engine: campaigns, exclusions, control groups, policy and capacity in SQL."""
