"""Recipients and audiences: who a campaign can reach."""
