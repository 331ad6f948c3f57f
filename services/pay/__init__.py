"""pay: the payment app's backend (KB Pay's role): card points and payments."""
