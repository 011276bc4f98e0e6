"""`tsm evaluate` and `tsm plot` (being written)."""


def add_commands(sub) -> None:
    return None
