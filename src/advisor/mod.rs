//! insforge.advise(): one rule per file in sql/advisor/, wired here.
