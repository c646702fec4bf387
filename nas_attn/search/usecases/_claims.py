"""Record the claims a study makes (the ``claims`` study attribute) once its seeds are final."""

from __future__ import annotations

import optuna

from nas_attn.search.claims import Claims
from nas_attn.search.results import claims_of
from nas_attn.search.studydb.records import StoredClaims


def record_claims(study: optuna.Study) -> Claims:
    """The study's claims against its plain backbone, stored on the study and returned."""
    claims = claims_of(study)
    StoredClaims(claims.to_dict()).write(study)
    return claims
