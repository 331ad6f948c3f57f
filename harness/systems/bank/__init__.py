"""The reference super-app: mock bank, card, pay and remit services (``services/``).

``domino.yaml`` describes it like any user's system; :mod:`.adapter` holds
everything Domino knows about it beyond HTTP (error bodies and cause chains,
honest codes, the admin API, the ledger check, seeded customers, profiles and
knobs); ``incidents/`` holds the outages it reproduces.
"""
