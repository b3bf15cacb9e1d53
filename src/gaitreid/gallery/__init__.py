"""A persistent gallery of enrolled people: SQLite storage, search, open-set identification, calibration.

Modules: `database` (the SQLite file), `search` (exact and indexed nearest neighbours), `identify`
(ranked identities, unknown above the threshold), `calibrate` (the threshold for a target
false-accept rate), `sources` (a user's sequence -> pretreated frames), `workflow` (enrol/identify).
"""
