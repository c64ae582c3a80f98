
erp-pushg
invoice

invoice_idZ-1
	debtor_idD1
currencyCNY
amount1234.56
due_on
2026-03-10f
payment

payment_idP1
currencyCNY
amount1.00(
received_at2026-03-11T10:00:00+08:00