"""The two-phase commit: the coordinator and the participant, how a company is reached
(gateway), phase two after the answer (outbox), recovery, and what a client is answered about
a booking (answers, with its legs' live states)."""
