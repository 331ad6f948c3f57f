"""card: the card company's service: a customer's cards and their points (from pay)."""
