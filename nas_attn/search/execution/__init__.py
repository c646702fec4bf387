"""The workers that train trials, and what the driver needs from them (only some modules import Ray).

``protocol`` is the pool interface the driver sees (requests in, tickets and outcomes out;
``SearchSpace.train_request`` builds the requests); ``pool`` is the pool of long-lived Ray
actors; ``inprocess`` is a pool without Ray (one worker in this process); ``_local_ray``
(private: only ``pool`` uses it) starts a private single-machine Ray; ``ray_address`` checks a
``--ray-address`` with a bounded TCP connect; ``ray_owner`` records the Ray processes a driver
started so a dead driver's can be stopped. Nothing here imports another part of
``nas_attn.search``.
"""
