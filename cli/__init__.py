"""The ``aer`` command-line app (a thin layer over ``retrieval``)."""
