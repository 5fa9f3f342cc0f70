"""The lifecycle as data: the states and one transition table, named guards, the machine."""
