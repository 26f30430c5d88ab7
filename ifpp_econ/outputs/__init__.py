"""Rendering results: the presentation vocabulary (labels, units, number formats), charts, tables and console
summaries (:mod:`.writers`), results.xlsx, the HTML report, the calibration report, and run folders (atomic
output with a manifest)."""
