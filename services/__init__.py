"""The reference system Domino breaks: mock bank, card and pay services and their kit."""
