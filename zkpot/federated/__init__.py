"""Federated mode (ZKPoT): participants prove their update's accuracy and are paid only for
proven updates; the employer decrypts, checks and aggregates them. See docs/federated.md.

Pure parts: ``crypto`` (update encryption), ``updates`` (update encoding), ``fedavg``,
``split`` (non-IID partitions), ``local`` (local training and attacks), ``manifest``,
``phases`` (a round's commit and reveal phases by chain time).
Chain: ``chain`` (FederatedTask wrapper, no torch). Roles: ``participant``, ``employer``;
a demo federation with Byzantine members: ``federation``.
"""
