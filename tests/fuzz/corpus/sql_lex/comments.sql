dRoP/**/TaBlE t; -- DROP TABLE x
select /* a /* nested */ b */ 1