"""The ``geocrobim`` command line: thin click commands over library functions."""
