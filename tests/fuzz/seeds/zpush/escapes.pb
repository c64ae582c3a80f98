
escapes2
debtor
	debtor_idD"1
name王 "会计"
\