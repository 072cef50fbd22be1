"""newsletter: campaign files in, responsive CSS-inlined newsletters out.

One subpackage per stage, in the order data flows through them (each imports only earlier ones):
`project` reads and validates the project's files, `render` turns a campaign into HTML and text,
`payments` keeps the Stripe Payment Links, `pipeline` loads, renders and writes for every command,
`review` checks the result and shows it, `mail` sends it, and `cli` is the thin command line over
all of it. `errors`, `files` and `vocabulary` are shared by all stages.
"""
