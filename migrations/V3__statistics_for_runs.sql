-- Runs follow bulk loads: with statistics still describing empty tables the planner
-- picks nested loops over a million rows. A run refreshes them first, through the
-- same owner-run function maintenance uses.
grant execute on function cogs_analyze() to cogs_app;
