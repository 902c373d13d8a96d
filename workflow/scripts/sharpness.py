"""Section 5.3: sigmoid slopes across the GM/WM boundary of volunteer 1, scan 1, for every method."""

from qmri.data.io import load_arrays
from qmri.paper.naming import is_method
from qmri.paper.sharpness import boundary_lines, paired_tests, slopes
from qmri.pipeline.rulejob import rule_job
from qmri.pipeline.study import write_table

with rule_job(snakemake) as log:
    arrays = load_arrays(snakemake.input[0])
    parameter = arrays["param_names"].tolist().index("T1")
    pixel_mm = snakemake.params.pixel_mm
    lines = boundary_lines(arrays["labels"][0], pixel_mm=pixel_mm)
    table = slopes({m: arrays[m][0, 0, parameter] for m in arrays if is_method(m)}, lines, pixel_mm)
    log.info("median |nu| (1/mm): %s\npaired t-tests:\n%s", table.groupby("method")["abs_nu"].median().round(3).to_dict(),
             paired_tests(table).to_string())
    write_table(table, snakemake.output[0])
