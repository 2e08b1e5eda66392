select B'1010', X'1F', N'nat', U&'d\0061t\+000061', U&"d\0061t", "a""b", 'a'
'b'