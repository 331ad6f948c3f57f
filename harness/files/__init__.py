"""Files Domino reads, turned into typed models: topology files, incident specs, Compose files.

Every reader reports mistakes as one line naming file, line, field, what is
wrong and what is allowed (:mod:`harness.files.yamldoc`).
"""
