"""newsletter: campaign files in, responsive CSS-inlined newsletters out.

The pipeline, one module per stage: `settings` and `campaign` load and validate the project's files,
`columns` reads columns and makes teaser excerpts, `links` decides every link, `render` makes MJML,
HTML and text, `build` writes them, and `cli` is the thin command line over all of it.
"""
