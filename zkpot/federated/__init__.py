"""Federated mode (ZKPoT): participants prove their update's accuracy and are paid for its
certified improvement over the round's global model; the employer decrypts, checks and
aggregates them. See docs/federated.md. The Flower strategy and client over these roles live
in ``zkpot_flower`` (a door: nothing here imports it).

Pure parts: ``crypto`` (update encryption), ``updates`` (update encoding), ``fedavg``,
``split`` (non-IID partitions), ``local`` (local training and the demos' behaviours),
``manifest``, ``phases`` (a round's commit and reveal phases by chain time), ``rewards`` (the
reward rule and the step a participant submits), ``duplicates`` (near-copies).
``certificates``: the one off-chain source of certified counts. Chain: ``chain``
(FederatedTask wrapper, no torch). Roles: ``participant``, ``employer``.
"""
