"""gaitreid: recognise a person from the way they walk.

Sequences of binary walking silhouettes go in; an embedding per sequence comes out,
close for the same person across views and clothing.
"""

__version__ = "0.1.0"
