"""Acquisition protocols of Table 2 (Sabidussi et al. 2021): tau in ms."""

from __future__ import annotations

#: IV_T1: 31 inversion times (ms)
IV_T1 = (139, 166, 193, 219, 246, 272, 299, 325, 352, 379, 405, 432, 458, 485, 511, 538, 565, 591, 618, 644, 671,
         697, 724, 751, 777, 804, 838, 857, 883, 915, 937)
#: HP_T1: 23 inversion times (ms); IV_T1 noisy adds 925 and 958 (25 TIs)
HP_T1 = (172, 204, 237, 270, 303, 335, 368, 401, 434, 467, 499, 532, 565, 598, 630, 663, 696, 729, 761, 794, 827,
         860, 893)
IV_T1_NOISY = HP_T1 + (925, 958)
#: HP_T2 and IV_T2: 6 T2 preparation times (ms)
T2_PREP = (10, 20, 40, 80, 160, 320)
