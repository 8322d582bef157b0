"""The one error a channel raises when a notification could not be delivered."""


class DeliveryError(Exception):
    """Delivery failed; ``retryable`` says whether trying again later may succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
