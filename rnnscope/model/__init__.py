"""``rnnscope model``: the recurrent layers of a user's own model, as its forward calls them.

``target`` imports the code TARGET names and builds the model and its inputs (that is its job:
this code is the user's and runs); ``fit`` says, from shapes alone, why a call's input or state
does not fit its module; ``capture`` hooks every recurrent module for one forward; ``weights``
loads ``--weights`` through load's static reader; ``summary`` runs it all into one report.
"""
