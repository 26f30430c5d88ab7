"""Workbook → validated inputs: the schema of the parameter workbook, the safe file loader, the validating reader
and its rules across cells, the template writer, units and price years, and the parameter distributions.

Read a workbook with :func:`ifpp_econ.inputs.reader.read_workbook` (every problem at once, each with its cell);
it returns :class:`ifpp_econ.inputs.container.Inputs`. Nothing here knows about the model's states.
"""
