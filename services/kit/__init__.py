"""What the bank, card and pay services share: config, profiles, errors, auth,
outbound dependencies, the admin API, storage and the app factory."""
