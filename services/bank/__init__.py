"""bank: the super-app backend: login, accounts, and the card tab (-> card -> pay)."""
