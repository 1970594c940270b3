"""Delivery to the people who do not run the pipeline: LookML for Looker, the daily brief, Metabase's dashboard."""
