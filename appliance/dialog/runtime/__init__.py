"""The running conversation: the flow engine, its steps, slot filling, API nodes, the call-side conversation
loop, text rehearsal."""
