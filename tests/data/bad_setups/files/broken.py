def f(io):
    return (
