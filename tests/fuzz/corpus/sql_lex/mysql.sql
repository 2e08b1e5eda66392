SELECT `a``b`, 'it\'s', "x\"y" FROM t # c
; /*!50000 DROP TABLE t */ /*M!100100 select 1*/; select 1--1, @@version, @a := 1 -- c