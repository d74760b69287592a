"""The error type of ember.distributed."""


class DistributedError(RuntimeError):
    """A distributed setup or communication problem: MPI missing, no process group, a peer
    that did not take part in a collective within the timeout, mismatched tensors."""
