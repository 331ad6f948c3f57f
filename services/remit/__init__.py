"""remit: the overseas remittance network bank sends remittances through."""
